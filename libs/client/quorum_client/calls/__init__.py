"""The public API's calls, one module per public service of `quorum.gateway.v1`.

Each module holds one service's calls on top of `quorum_client.channel.Connection`;
`quorum_client.Client` is all of them over one channel. A unary call is a declaration,
`@unary(Request, Response)` over the method's signature and docstring, and an
iterator over every page of a listing is `@paged(...)`; the calls with logic of
their own (waiting for an idea, the event stream) are written out.
"""
