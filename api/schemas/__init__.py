"""Request and response models, one module per resource (XBase, XCreate, XPublic)."""
