"""smconnect: connect local tools to Amazon SageMaker Studio spaces over a native SSM data channel."""

__version__ = "0.1.0"
