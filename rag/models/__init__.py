"""The models: the sentence embedder, the language model in this process (llama.cpp, its CPU
variants proven) or behind an OpenAI-compatible server, and the GGUF files they load.
"""
