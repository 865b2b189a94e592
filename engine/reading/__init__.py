"""Reading a recipient list: byte lines or Python items in, blocks of accepted records out."""
