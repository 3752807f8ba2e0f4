// placeholder: replaced by the model layers
