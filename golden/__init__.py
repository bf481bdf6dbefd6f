"""The versioned golden files, their schema, loading, verification and the ``neuron-oracle`` CLI."""
