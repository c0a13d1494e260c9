"""The labs and their steps, each with its status, and the learner's overall progress."""

from __future__ import annotations

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import ProgressBar, Static, Tree
from textual.widgets.tree import TreeNode

from workshop.core.content import Lab, Step
from workshop.core.progress import Progress
from workshop.core.verdict import FAILING, MARKS, PASSED

ICONS = {status: MARKS[status] for status in (PASSED, FAILING)}
Place = tuple[Lab, Step | None]
GUIDE, ICON = 2, 2  # "├ " before a step (the tree's guide_depth) and "○ " before its title




def fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` characters with an ellipsis, so what follows it stays in view."""
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


class Navigator(Vertical):
    """Overall progress on top, then a tree of labs and steps."""

    DEFAULT_CSS = """
    Navigator { height: 1fr; }
    Navigator #overall { height: 1; padding: 0 1; }
    Navigator ProgressBar { height: 1; padding: 0 1; }
    Navigator Bar { width: 1fr; }
    Navigator Tree { height: 1fr; overflow-x: hidden; }
    """

    class StepChosen(Message):
        """The learner picked a lab or a step in the tree."""

        def __init__(self, lab: Lab, step: Step | None) -> None:
            super().__init__()
            self.lab = lab
            self.step = step

    def __init__(self, labs: list[Lab], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.labs = labs
        self._tree_nodes: dict[tuple[str, str], TreeNode[Place]] = {}
        self._width = 27  # columns for a tree line: until the first layout, as at 30 columns with a scrollbar
        self._progress: Progress | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="overall")
        yield ProgressBar(total=max(1, sum(len(lab.steps) for lab in self.labs)), show_eta=False)
        tree: Tree[Place] = Tree("Labs", id="labs")
        tree.show_root = False
        tree.guide_depth = 2
        for lab in self.labs:
            node = tree.root.add(lab.title, data=(lab, None), expand=True)
            self._tree_nodes[(lab.slug, "")] = node
            for step in lab.steps:
                self._tree_nodes[(lab.slug, step.id)] = node.add_leaf(step.title, data=(lab, step))
        yield tree

    def on_resize(self, event: events.Resize) -> None:
        """Long titles are cut with an ellipsis to the room there is, so each lab's count stays in view."""
        lines = sum(1 + len(lab.steps) for lab in self.labs)
        room = self.size  # inside the border (event.size counts it)
        tree_height = room.height - 2  # below the overall line and the progress bar
        width = room.width - (2 if lines > tree_height else 0)  # the tree's scrollbar
        if width != self._width:
            self._width = width
            if self._progress is not None:
                self._labels(self._progress)

    def show(self, progress: Progress, lab: Lab | None, step: Step | None) -> None:
        """Refresh every status and put the cursor on the learner's place."""
        self._progress = progress
        self._labels(progress)
        if lab is not None:
            node = self._tree_nodes.get((lab.slug, step.id if step else ""))
            tree = self.query_one(Tree)
            if node is not None and tree.size.height:
                tree.move_cursor(node)
            elif node is not None:
                # Not laid out yet (the first frame): moving the cursor would scroll the tree as if
                # it had no height, hiding the lab's own line. Place it, and scroll once there is room.
                tree.cursor_line = node.line
                self.call_after_refresh(tree.scroll_to_node, node, animate=False)

    def _labels(self, progress: Progress) -> None:
        total = passed = 0
        for each in self.labs:
            done = 0
            for s in each.steps:
                status = progress.status(each.slug, s.id)
                done += status == PASSED
                icon, style = ICONS.get(status, ("○", "dim"))
                title = fit(s.title, self._width - GUIDE - ICON)
                self._tree_nodes[(each.slug, s.id)].set_label(Text.assemble((icon, style), " ", title))
            total += len(each.steps)
            passed += done
            mark = ("✓ ", "green") if done == len(each.steps) and done else ("", "")
            count = f" {done}/{len(each.steps)}"
            name = fit(f"{each.id} {each.title}", self._width - GUIDE - len(count) - len(mark[0]))
            self._tree_nodes[(each.slug, "")].set_label(Text.assemble(mark, (name, "bold"), count))
        self.query_one("#overall", Static).update(f"{passed} of {total} steps passed")
        self.query_one(ProgressBar).update(progress=passed)

    @on(Tree.NodeSelected)
    def chosen(self, event: Tree.NodeSelected[Place]) -> None:
        event.stop()
        if event.node.data is not None:
            lab, step = event.node.data
            self.post_message(self.StepChosen(lab, step))
