"""Write the one-GPU recipe's table (studies/results/gpu-recipe.md): per card, the teacher mode that fits and the
estimated hours of one CUB-200 run — counted-FLOP estimates, labelled as such.

    python studies/gpu_recipe.py
"""

from pathlib import Path

from pand_core.book.accelerator import card_plan_markdown

OUT = Path(__file__).resolve().parent / "results" / "gpu-recipe.md"

if __name__ == "__main__":
    OUT.write_text(card_plan_markdown())
    print(f"wrote {OUT}")
