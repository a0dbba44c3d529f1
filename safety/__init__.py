"""The safety machinery the homework does not ask for but users need: the README's promises, one
module each, read top to bottom, each promise beside the code that keeps it.

- `safety.interrupts`: Ctrl-C is one line and exit status 130 at any moment, even during the
  imports.
- `safety.errors`: a bad file or option ends, before any work, with one line and exit status 2
  (`DataError`, shown by `common.run_cli`).
- `safety.pickles`: pickles are untrusted input; a restricted unpickler records what a file claims
  without running anything, and the array is built only when the claims hold (`load_array`).
- `safety.output_folders`: `--out` replaces only a folder this project wrote, holding nothing else,
  and never the data, a checkout or a mount point (`check_output_folder`, `RUN_MARKER`).
- `safety.run_folders`: a run folder appears whole or not at all, in one atomic exchange
  (`run_folder`); what a killed run leaves is cleared by the next; single files are replaced whole
  too (`atomic_path`).
- `safety.json_files`: metrics.json is strict JSON (`write_json`, `NOT_COMPUTED`).

This file imports nothing, so that `from safety import interrupts`, each script's first line, is
fast: Ctrl-C during the imports that follow it is caught.
"""
