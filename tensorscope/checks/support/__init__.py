"""The checks' source-analysis toolkit, one module per idea; nothing here runs the user's code.

`source`: the one AST cache and the statement at a line; `resolve`: values of names and chains read from
a frame; `names`: the user's names for objects; `lines`: a statement and the variables it names (`look`);
`line_info`: what a line does (assigns, accumulates, steps); `text`: shapes, values and code for messages;
`culprits`, `origin`, `autograd_watch`, `inplace_calls`, `deliberate_inf`: what several checks share.
"""
