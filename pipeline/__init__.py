"""Domain logic of the smartedu pipeline: one module per stage, no broker imports."""

__version__ = "0.1.0"
