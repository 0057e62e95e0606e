"""`hybrid-ai finetune`: LoRA (CPU) / QLoRA (CUDA) adapters for the local tier from chat examples or the route log."""
