"""Text shared by every stage: sentences as exact character spans, and comparable terms.
"""
