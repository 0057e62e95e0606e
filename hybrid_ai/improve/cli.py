"""The `hybrid-ai improve` command line (the stages are in run.py)."""

from __future__ import annotations


def _improve(args) -> int:
    from .run import run

    return run(args)


def add_parser(sub) -> None:
    p = sub.add_parser("improve", help="the learning loop: fine-tune on logged traffic, gate on held-out requests, "
                       "write a bundle version and promote it only when it is better",
                       description="Turn teacher answers (the cloud's, from the route log, or a file) into a better "
                                   "local model; promote it in the bundle only when held-out requests prove it "
                                   "(docs/improve.md). Exit status: 0 promoted or nothing to do, 3 rejected, "
                                   "2 bad input (nothing written).")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--log", help="route log (a SQLite file or a postgresql:// URL) written with "
                     "telemetry.log_prompts: the cloud's answers")
    src.add_argument("--data", help="JSON lines in the `finetune --data` format (teacher answers), oldest first")
    p.add_argument("--policy", default=None, help="the policy to improve when the bundle has no current version "
                   "(default: the bundled default)")
    p.add_argument("--out", required=True, metavar="BUNDLE_DIR", help="the bundle: versions vN/ and `current`")
    p.add_argument("--gate-suite", help="an eval suite to gate on instead of the newest share of the data")
    p.add_argument("--general-suite", default="assistant-traffic", help="the forgetting check's suite (a bundled "
                   "name or a folder; `none` to skip)")
    p.add_argument("--target-quality", type=float, default=0.95, help="share of all-cloud quality to keep")
    p.add_argument("--holdout", type=float, default=0.2, help="the newest share of the data kept for the gate")
    p.add_argument("--calibration", type=float, default=0.2, help="the share of the training side kept out of "
                   "training to choose the threshold on (every k-th example)")
    p.add_argument("--min-examples", type=int, default=20, help="fewer training examples: exit 2, nothing written")
    p.add_argument("--min-new", type=int, default=50, help="with a current version: fewer new examples since it "
                   "was made, and the run exits 0 with 'nothing to do' (for a schedule)")
    p.add_argument("--margin", type=float, default=0.10, help="the most the general set's local quality may fall")
    p.add_argument("--no-reference-check", dest="reference_check", action="store_false",
                   help="keep the current policy's mode: no cascade check of local answers against the training "
                        "answers (checks/reference.py)")
    p.add_argument("--similarity", choices=("embedding", "tfidf"), default="embedding",
                   help="how a request is matched to the training questions (the domain split and the reference "
                        "check): sentence embeddings (default; about 10 ms a request) or shared words (0.1 ms)")
    p.add_argument("--context", type=int, default=3, choices=range(9), metavar="K",
                   help="train the domain adapter with the answers of the K nearest other training questions in its "
                        "prompt, and serve it so (tiers.NAME.domain.context; default 3); 0: recall alone")
    p.add_argument("--judge", choices=("agreement", "llm"), default="agreement",
                   help="how the gate grades answers against the teacher's: agreement (the same final number, else "
                        "token F1 >= 0.5; free) or llm (the policy's strong tier as judge, live, within --judge-max-usd; "
                        "a gate answer left unjudged blocks promotion)")
    p.add_argument("--judge-max-usd", type=float, default=1.0, help="the LLM judge's spend cap for the run")
    p.add_argument("--rehearse", help="JSON lines of general prompts whose own answers are mixed into training "
                   "(default: the log's local traffic, else the bundled everyday prompts; `none`: no rehearsal)")
    p.add_argument("--epochs", type=float, help="passes over the training examples (default: the config's if it "
                   "sets them, else about 600 examples seen in all, between 1 and 8 epochs)")
    p.add_argument("--config", help="a finetune YAML config (rank, learning rate, ...)")
    p.add_argument("--dry-run", action="store_true", help="say what would be used, write nothing")
    p.set_defaults(func=_improve)
