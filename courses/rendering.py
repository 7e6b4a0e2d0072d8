"""Markdown with LaTeX math to safe HTML: the one pipeline for lessons, exercises, hints,
solutions and the authoring preview, so a teacher previews exactly what learners get.

1. markdown-it-py (CommonMark + tables) parses with raw HTML *disabled*: `<script>` in
   the source is text, not markup.
2. mdit-py-plugins' dollarmath turns `$...$` and `$$...$$` into
   `<span class="math inline">` / `<div class="math block">` holding the escaped TeX;
   the browser typesets them with KaTeX (frontend/src/math.ts), which builds its own
   DOM from the TeX and is run with `trust: false`.
3. `asset:<name>` image and link targets become the course's asset URL.
4. nh3 sanitises the result against an allow-list of tags, attributes, classes and URL
   schemes (http, https, mailto, relative). Event handlers, `javascript:`/`data:` URLs
   and anything unexpected are dropped even if a parser bug let them through.
"""

import re
from urllib.parse import quote

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

MAX_SOURCE_LENGTH = 100_000
ASSET_PREFIX = "asset:"
ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

_markdown = (
    MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    .enable("table")
    .enable("strikethrough")
    .use(dollarmath_plugin, double_inline=True)
)

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del",
    "code", "pre", "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody",
    "tr", "th", "td", "span", "div",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
}
ALLOWED_CLASSES = {"span": {"math", "inline"}, "div": {"math", "block"}}
URL_SCHEMES = {"http", "https", "mailto"}


def _rewrite_assets(tokens, asset_base: str | None) -> None:
    """Point `asset:<name>` targets at `asset_base + name`; drop them when there is no
    course to resolve them against or the name is not a plain file name."""
    for token in tokens:
        if token.children:
            _rewrite_assets(token.children, asset_base)
        for attr in ("src", "href"):
            value = token.attrGet(attr)
            if isinstance(value, str) and value.startswith(ASSET_PREFIX):
                name = value[len(ASSET_PREFIX) :]
                if asset_base and ASSET_NAME.match(name):
                    token.attrSet(attr, asset_base + quote(name))
                else:
                    token.attrSet(attr, "")


def render_markdown(source: str, *, asset_base: str | None = None) -> str:
    """Safe HTML for `source` (Markdown with math). `asset_base` is the URL prefix of
    the course's assets (e.g. `/courses/3/assets/`), or None outside a course."""
    source = (source or "")[:MAX_SOURCE_LENGTH]
    env: dict = {}
    tokens = _markdown.parse(source, env)
    _rewrite_assets(tokens, asset_base)
    return sanitize_html(_markdown.renderer.render(tokens, _markdown.options, env))


def sanitize_html(html: str) -> str:
    """The allow-list sanitiser, on its own (render_markdown always applies it)."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        allowed_classes=ALLOWED_CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
