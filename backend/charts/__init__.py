"""Pure chart geometry: data in, SVG coordinates out; no Flask, no database."""
