"""Pictures of computation graphs: the pure walk and summaries, ``draw_graph``, the backward pass as steps
(``backward_steps``, ``explain``) and the stepper that plays it in a notebook (``step_through``).

Nothing here imports graphviz or anywidget until a picture is drawn or a widget is shown.
"""

from .draw import draw_graph, escape_label
from .stepper import Frame, Stepper, step_through
from .steps import BackwardStep, Contribution, Explanation, backward_steps, explain
from .summary import Cluster, GraphSummary, summarize_graph
from .walk import Graph, GraphEdge, GraphNode, format_number, walk, walk_graph

__all__ = [
    "BackwardStep",
    "Cluster",
    "Contribution",
    "Explanation",
    "Frame",
    "Graph",
    "GraphEdge",
    "GraphNode",
    "GraphSummary",
    "Stepper",
    "backward_steps",
    "draw_graph",
    "escape_label",
    "explain",
    "format_number",
    "step_through",
    "summarize_graph",
    "walk",
    "walk_graph",
]
