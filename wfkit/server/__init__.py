"""``wfkit serve``: Dapr's workflow HTTP API, wfkit's own routes and a live dashboard.

An ASGI application (Starlette, served by uvicorn: the optional extra ``wfkit[server]``)
over a :class:`~wfkit.runtime.api.Runtime`. Its parts, one module each, are composed by
:func:`wfkit.server.app.create_app`:

* :mod:`wfkit.server.dapr_api`: Dapr's workflow routes under ``/v1.0``, ``/v1.0-beta1``
  and ``/v1.0-alpha1``, and the side endpoints a Dapr client calls first (metadata,
  healthz), answering with Dapr's status codes, bodies and error codes;
* :mod:`wfkit.server.wfkit_api`: wfkit's own routes under ``/v1.0/wfkit/`` (lists,
  histories, steps, definitions, graphs, a Server-Sent Events stream) and the OpenAPI
  document;
* :mod:`wfkit.server.dashboard`: the web page at ``/`` (static files, no build step);
* :mod:`wfkit.server.guard`: the token check and the request body limit.

Nothing here is imported by ``import wfkit`` or by the command line until ``wfkit serve``
runs, so the CLI starts as fast without the extra installed.
"""
