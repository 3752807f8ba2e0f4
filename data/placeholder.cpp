// placeholder: replaced by the corpus reader and writer
