"""The query grammar (lark, LALR): Cloud Logging filters, then pipe stages.

Binding, loosest first: explicit ``AND``, implicit AND (juxtaposition), ``OR``,
``NOT``/``-``. Keywords are keywords only in upper case and only as whole words,
so ``ANDROID`` and ``and`` are plain words. ``--`` starts a comment.
"""

from __future__ import annotations

# Characters that end an unquoted word (section 6 of the reference): whitespace
# and the operators, plus the pipe that starts a stage.
_STOP = r"""\s~=():<>,."!*|\\"""

GRAMMAR = rf"""
?start: query

query: conj? stage*

?conj: seq (AND seq)*         -> and_
?seq: disj+                   -> seq_
?disj: unary (OR unary)*      -> or_
?unary: NOT unary             -> not_
      | MINUS unary           -> not_
      | primary

?primary: "(" conj ")"
        | comparison
        | search
        | value               -> global_

comparison: path OP rhs
          | path HAS STAR     -> exists
          | path HAS rhs

?rhs: value
    | NULL_VALUE             -> null_value
    | "(" rhs_conj ")"       -> rhs_group

?rhs_conj: rhs_seq (AND rhs_seq)*   -> and_
?rhs_seq: rhs_disj+                 -> seq_
?rhs_disj: rhs_unary (OR rhs_unary)* -> or_
?rhs_unary: NOT rhs_unary           -> not_
          | MINUS rhs_unary         -> not_
          | value                   -> rhs_value
          | "(" rhs_conj ")"

search: FUNC_SEARCH "(" [path ","] STRING ")"

path: segment ("." segment)*
?segment: WORD | STRING

value: WORD | STRING | NUMBER

stage: PIPE stage_body
?stage_body: "groupBy" path_list              -> group_by
           | "count" ["(" ")"]                -> count
           | "orderBy" path [DIRECTION]       -> order_by
           | "limit" INT                      -> limit
           | "fields" path_list               -> fields
           | "stats" agg_list ["by" path_list] -> stats
           | "top" INT path                   -> top
           | "timechart" SPAN [agg_list]      -> timechart

path_list: path ("," path)*
agg_list: agg ("," agg)*
agg: AGG_FUNC "(" [path] ")"

PIPE: "|"
OP: "!=" | "<=" | ">=" | "=~" | "!~" | "=" | "<" | ">"
HAS: ":"
STAR: "*"
AND.3: /AND(?![^{_STOP}])/
OR.3: /OR(?![^{_STOP}])/
NOT.3: /NOT(?![^{_STOP}])/
NULL_VALUE.3: /NULL_VALUE(?![^{_STOP}])/
FUNC_SEARCH.3: /SEARCH(?=\s*\()/i
MINUS: "-"
DIRECTION.2: /(asc|desc)(?![^{_STOP}])/i
AGG_FUNC.2: /(count_distinct|count|avg|min|max|sum|p50|p95|p99)(?=\s*\()/
SPAN.2: /\d+(s|m|h|d)(?![^{_STOP}])/
INT.2: /\d+(?![^{_STOP}])/
NUMBER.1: /\d+\.\d+([eE][+-]?\d+)?(?![^{_STOP}])/
STRING: /"(\\.|[^"\\])*"/
WORD: /[^{_STOP}\-][^{_STOP}]*/
COMMENT: /--[^\n]*/

%import common.WS
%ignore WS
%ignore COMMENT
"""
