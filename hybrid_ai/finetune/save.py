"""Writing an adapter folder so that the policy never points at a half-written one: everything goes to a
temporary folder beside it and replaces the old folder in one rename; on any failure (a full disk, Ctrl-C during
the write) the temporary folder is removed and the previous adapter is left as it was.

The folder: `adapter_config.json` + `adapter_model.safetensors` (PEFT), the tokenizer, and `training.json`
(base model and its fingerprint, config, data hash and counts, metrics). `merged/` (with `--merge`) holds full
weights with the adapter merged in, loadable as a plain model folder."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..backends.local_model import fingerprint  # noqa: F401  (what an adapter records of its base)
from ..errors import HybridAIError, require


def _replace_dir(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def atomic_write(out: Path, write) -> None:
    """`write(folder)` fills a temporary folder that then replaces `out`."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the adapter folder is an ordinary one
    try:
        write(tmp)
        _replace_dir(tmp, out)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError):
            raise HybridAIError(f"could not write the adapter to {out}: {e.strerror or e}; "
                                f"{'the previous adapter there is unchanged' if out.exists() else 'nothing was written'}"
                                ) from None
        raise


def _to_fp16(path: Path) -> None:
    from safetensors.torch import load_file, save_file

    save_file({k: v.half() for k, v in load_file(str(path)).items()}, str(path), metadata={"format": "pt"})


def save_adapter(result, out: Path, info: dict, *, base_model_name: str) -> int:
    """Save the trained adapter and `training.json`; returns the adapter's size in bytes."""
    def write(folder: Path) -> None:
        result.model.save_pretrained(folder, safe_serialization=True)
        if info["config"].get("save_dtype") == "fp16":
            _to_fp16(folder / "adapter_model.safetensors")
        result.tokenizer.save_pretrained(folder)
        cfg_path = folder / "adapter_config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["base_model_name_or_path"] = base_model_name  # not the machine-specific cache folder
        cfg_path.write_text(json.dumps(cfg, indent=2))
        size = sum(f.stat().st_size for f in folder.glob("adapter_*"))
        info["metrics"]["adapter_bytes"] = size
        (folder / "training.json").write_text(json.dumps(info, indent=1, default=str))

    atomic_write(out, write)
    return info["metrics"]["adapter_bytes"]


def merge(tier, adapter: Path) -> Path:
    """Write `adapter/merged`: the base in full precision (fp32; a 4-bit base cannot be merged exactly) with the
    adapter merged in."""
    transformers = require("transformers", "local")
    peft = require("peft", "local")
    from ..backends.local_model import model_path

    if not (adapter / "adapter_config.json").is_file():
        raise HybridAIError(f"{adapter}: no adapter to merge (adapter_config.json is missing)")
    path, _ = model_path(tier)
    base = transformers.AutoModelForCausalLM.from_pretrained(path)
    merged = peft.PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    tok = transformers.AutoTokenizer.from_pretrained(path)

    def write(folder: Path) -> None:
        merged.save_pretrained(folder, safe_serialization=True)
        tok.save_pretrained(folder)

    atomic_write(adapter / "merged", write)
    return adapter / "merged"
