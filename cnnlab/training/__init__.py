"""Training: the only TensorFlow/Keras users besides the data loader's download.

`model` builds the Keras model from a spec's layer plan, `train` trains and evaluates one
model on one seed, `augment` resamples training images, `probes` measures a trained model on
shifted and rotated test images, `cell` trains one cell of a sweep (splits, training, probes),
`inputs` scales images for the model, `result` holds the typed records a training returns,
and `runtime` owns TensorFlow's process-wide settings (threads, seeding, a quiet import).
Everything here computes and returns; files and tracking are written by the caller.
Importing this package imports nothing heavy; its modules do.
"""
