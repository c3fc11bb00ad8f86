"""The public API's calls, one module per public service of `quorum.gateway.v1`.

Each module holds one service's calls on top of `quorum_client.channel.Connection`;
`quorum_client.Client` is all of them over one channel. A unary call is a declaration,
`@unary(Request, Response)` over the method's signature and docstring; the few calls
with logic of their own (paging, waiting, the event stream) are written out.
"""
