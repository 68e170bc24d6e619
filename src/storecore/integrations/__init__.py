"""storecore inside other DICOM toolkits' applications.

- :mod:`storecore.integrations.pynetdicom`: event handlers, presentation
  contexts and a sending helper for an existing ``pynetdicom.AE``.

Each module imports its toolkit on import; this package imports none.
"""
