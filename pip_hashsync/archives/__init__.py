"""Getting the plan's archives onto disk: parallel downloads hashed while streaming, with
fallback to the next allowed file, into the content-addressed cache. Hands on verified
archives; nothing here touches the environment.
"""
