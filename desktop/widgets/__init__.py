"""Plain widgets; they hold no clipcore logic and talk through signals."""
