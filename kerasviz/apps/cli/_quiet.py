"""Import TensorFlow without its C++ start-up lines on stderr.

TensorFlow 2.21 writes some lines through absl/glog before ``TF_CPP_MIN_LOG_LEVEL`` is read
("All log messages before absl::InitializeLog() …", "oneDNN custom operations are on …",
"Could not find cuda drivers …", cuInit failures), so the environment variable alone does not
stop them. Here file descriptor 2 goes to a temporary file while ``import tensorflow`` and the
device lookup run; afterwards every captured line that is not known start-up chatter is written
back to stderr, so a real warning or error stays visible. oneDNN stays on (only its notice goes).
"""
from __future__ import annotations

import os
import re
import sys
import tempfile

#: Start-up lines dropped; anything else captured during the import is written back.
CHATTER = re.compile(
    r"absl::InitializeLog|oneDNN custom operations|Could not find cuda drivers|cuInit|"
    r"cuda_diagnostics|kernel driver does not appear|Unable to register cu(DNN|FFT|BLAS) factory|"
    r"computation placer already registered|TF-TRT Warning|"
    r"This TensorFlow binary is optimized|rebuild TensorFlow with the appropriate compiler flags|"
    r"^[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\]")  # any other INFO / WARNING line of glog's format


def import_tensorflow() -> None:
    """Import TensorFlow and look up its devices with stderr's C++ chatter filtered out
    (does nothing when TensorFlow is already imported)."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GLOG_minloglevel", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # cuInit and driver messages come here
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode("utf-8", "replace").splitlines()
                    if line.strip() and not CHATTER.search(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)
