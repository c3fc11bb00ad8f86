"""The public API's calls, one module per public service of `quorum.gateway.v1`.

Each module holds one service's calls on top of `quorum_client.channel.Connection`;
`quorum_client.Client` is all of them over one channel.
"""
