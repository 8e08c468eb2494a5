"""How pieces read: the two marks every view and command shares (no sentencepiece import,
so a GUI module can use them without loading the tokenizer library at start-up)."""

WORD_START = "▁"  # sentencepiece marks the first piece of each word with it
EOS_PIECE = "</s>"  # how the views and the CLI show the eos token
