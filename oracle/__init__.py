"""The independent reference: exact, standard-library-only backpropagation for one neuron."""
