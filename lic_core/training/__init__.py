"""Training the zoo (``lic train``): losses, crops, the trainer, variable-rate gains,
widening and grafting. Training runs in torch and float; nothing here is imported by
compress or decompress."""
