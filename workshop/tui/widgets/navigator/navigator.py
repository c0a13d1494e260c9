"""The labs and their steps, each with its status, and the learner's overall progress."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import ProgressBar, Static, Tree
from textual.widgets.tree import TreeNode

from workshop.core.content import Lab, Step
from workshop.core.progress import FAILING, PASSED, Progress

ICONS = {PASSED: ("✓", "green"), FAILING: ("✗", "red")}
Place = tuple[Lab, Step | None]


class Navigator(Vertical):
    """Overall progress on top, then a tree of labs and steps."""

    DEFAULT_CSS = """
    Navigator { height: 1fr; }
    Navigator #overall { height: 1; padding: 0 1; }
    Navigator ProgressBar { height: 1; padding: 0 1; }
    Navigator Bar { width: 1fr; }
    Navigator Tree { height: 1fr; }
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

    def show(self, progress: Progress, lab: Lab | None, step: Step | None) -> None:
        """Refresh every status and put the cursor on the learner's place."""
        total = passed = 0
        for each in self.labs:
            done = 0
            for s in each.steps:
                status = progress.status(each.slug, s.id)
                done += status == PASSED
                icon, style = ICONS.get(status, ("○", "dim"))
                self._tree_nodes[(each.slug, s.id)].set_label(Text.assemble((icon, style), " ", s.title))
            total += len(each.steps)
            passed += done
            mark = ("✓ ", "green") if done == len(each.steps) and done else ("", "")
            self._tree_nodes[(each.slug, "")].set_label(
                Text.assemble(mark, (f"{each.id} {each.title}", "bold"), f" {done}/{len(each.steps)}")
            )
        self.query_one("#overall", Static).update(f"{passed} of {total} steps passed")
        self.query_one(ProgressBar).update(progress=passed)
        if lab is not None:
            node = self._tree_nodes.get((lab.slug, step.id if step else ""))
            if node is not None:
                self.query_one(Tree).move_cursor(node)

    @on(Tree.NodeSelected)
    def chosen(self, event: Tree.NodeSelected[Place]) -> None:
        event.stop()
        if event.node.data is not None:
            lab, step = event.node.data
            self.post_message(self.StepChosen(lab, step))
