"""Comparing directives: task alignment (one-to-one and tách/gộp groups), word-level redlines, a topic's evolution
across years and places, and precedent wording."""
