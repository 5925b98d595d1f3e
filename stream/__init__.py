"""The streaming analyser: sources -> Analyzer (face core, spotting, magnify + classify, overlay) -> sinks.

    from stream.config import StreamConfig
    from stream.pipeline import Analyzer
"""
