"""`hybrid-ai improve`: the learning loop as one gated command. Logged (or given) teacher answers -> a time-ordered
split (the newest share is the gate set, never trained on) -> a fine-tuned local model -> the candidate policy
and the current one answer the gate set and a general set -> promote only when the candidate keeps the target
quality and saves more, its interval clear of zero, and forgets no more than a margin -> a bundle version
(`bundle.py`) with its card. `data` (collection, split, the gate suite), `gate` (the comparison), `run` (the
stages and the bundle)."""
