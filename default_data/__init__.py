"""The default data's generators, which `make_data.py` (the command) runs when the user brings
no data:

- `default_data.sevens`: the "poor sevens", MNIST's real sevens with one known effect added;
- `default_data.speakers`: who speaks and what they say: a speaker's voice, and the phone-like
  segments of an utterance as frame tracks of the synthesiser's parameters;
- `default_data.speech`: the source-filter synthesiser that turns them into the speech matrices;
- `default_data.homework_files`: the homework's file formats (a pickled ndarray, a .npy truth file).
"""
