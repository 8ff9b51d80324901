"""Picture sets for measuring and testing the predictor, generated deterministically from
packages, never stored: MNIST's own eval digits as picture files (``mnist_files``), a synthetic
set of typed and hand-drawn digits (``synthetic``), and a development set and a test set from
Debian's typefaces, UCI's handwriting (scikit-learn) and a synthetic hand (``devtest``).
"""
