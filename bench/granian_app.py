"""ConvScope's app as a module-level WSGI callable, for bench_stack.py's granian case
(`python -m granian --interface wsgi bench.granian_app:app`): each granian worker builds it."""
from convscope.server import create_app

app = create_app()
