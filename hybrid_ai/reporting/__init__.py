"""What the HTML reports share (the eval report, the traffic report)."""
