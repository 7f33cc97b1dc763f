"""How the page looks: the gradio theme and the CSS for the sources panel and the articles table.

The page uses the system's fonts and gradio's CSS variables only, so it loads nothing from the
network and follows the light or dark mode of the browser.

Deliberately not here: any markup (ui/render.py writes it) or behaviour.
"""

from __future__ import annotations

from typing import Any


def theme() -> Any:
    import gradio as gr

    # The system's own fonts: bold text in gradio's bundled web fonts mixes glyphs in headless Chromium.
    sans = ["system-ui", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "Liberation Sans", "sans-serif"]
    mono = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace"]
    return gr.themes.Default(primary_hue="indigo", secondary_hue="slate", radius_size="md", font=sans, font_mono=mono)


CSS = """
.gradio-container { max-width: 1280px !important; margin: 0 auto !important; }
#rag-header h1 { margin: 0.2em 0 0 0; font-size: 1.6em; }
#rag-header p { margin: 0.1em 0 0.4em 0; color: var(--body-text-color-subdued); }
#rag-sources { padding: 22px 4px 2px 4px; }
.rag-empty { color: var(--body-text-color-subdued); padding: 12px; font-style: italic; }
.rag-details { border-bottom: 1px solid var(--border-color-primary); padding-bottom: 8px; margin-bottom: 6px; }
.rag-asked { font-weight: 600; }
.rag-searched, .rag-timings, .rag-place { color: var(--body-text-color-subdued); font-size: 0.85em; }
.rag-sources h4 { margin: 10px 0 4px 0; font-size: 1em; }
.rag-list { list-style: none; padding: 0; margin: 0; }
.rag-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px;
  margin: 8px 0; background: var(--background-fill-secondary); }
.rag-source-head { font-weight: 600; }
.rag-marker { color: var(--color-accent); margin-right: 2px; }
.rag-passage { margin: 6px 0 2px 0; padding: 4px 0 4px 10px; border-left: 3px solid var(--border-color-accent);
  white-space: pre-wrap; font-size: 0.92em; line-height: 1.45; }
.rag-uncited .rag-passage { border-left-color: var(--border-color-primary); }
.rag-source mark, .rag-article mark { background: #fde68a; color: #1f2937; padding: 0 1px; border-radius: 2px; }
.rag-article summary, .rag-others summary { cursor: pointer; color: var(--body-text-color-subdued); font-size: 0.85em; }
.rag-article-text { white-space: pre-wrap; font-size: 0.88em; max-height: 320px; overflow-y: auto;
  padding: 6px; border: 1px solid var(--border-color-primary); border-radius: 6px; margin-top: 4px; }
.rag-refusal { font-weight: 600; margin: 8px 0; }
.rag-notice { padding: 8px 12px; border-radius: 8px; margin: 6px 0; border: 1px solid var(--border-color-primary); }
.rag-error { border-color: #f87171; background: rgba(248, 113, 113, 0.12); }
.rag-ok { border-color: #4ade80; background: rgba(74, 222, 128, 0.12); }
.rag-warning { color: #b45309; font-size: 0.9em; margin: 4px 0; }
.rag-documents { width: 100%; border-collapse: collapse; }
.rag-documents th, .rag-documents td { text-align: left; padding: 6px 8px; vertical-align: top;
  border-width: 0 0 1px 0 !important; border-style: solid; border-color: var(--border-color-primary); }
.rag-documents .rag-num { text-align: right; white-space: nowrap; }
.rag-page-label { color: var(--body-text-color-subdued); font-size: 0.9em; margin: 2px 0 6px 0; }
.rag-documents .rag-day { white-space: nowrap; }
.rag-news, .rag-scope { color: var(--body-text-color-subdued); font-size: 0.85em; }
.rag-news a, .rag-documents a { color: var(--link-text-color); text-decoration: underline; }
#rag-question textarea { font-size: 1em; }
"""
