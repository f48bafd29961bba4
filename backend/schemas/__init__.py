"""marshmallow schemas: what each payload looks like on the wire, one per payload and audience."""
