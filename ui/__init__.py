"""The web chat: ask questions about the articles in a browser and see where each answer came from.

`ui.app.build_app(assistant, settings)` builds the Gradio page around one shared `Assistant`;
`ui.app.launch(...)` serves it (the `rag serve` command calls it). The other modules are pure and
testable without a server: `render` turns answers and the index into escaped HTML, `uploads`
checks and saves uploaded files, `chat` holds one browser session's conversation logic.
Importing this package does not import gradio; `ui.app` does.
"""
