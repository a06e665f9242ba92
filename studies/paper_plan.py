"""Write the reproduction guide's plan of the paper's whole grid (studies/results/paper-plan.md): jobs, GPU-hours and
wall time on 1, 8 and 32 GPUs, teacher online and from the bank — counted-FLOP estimates, labelled as such.

    python studies/paper_plan.py
"""

from pathlib import Path

from pand_core.batch.estimates import paper_plan_markdown

OUT = Path(__file__).resolve().parent / "results" / "paper-plan.md"

if __name__ == "__main__":
    OUT.write_text(paper_plan_markdown())
    print(f"wrote {OUT}")
