"""What the book reports, split by job: `paper` (the paper's numbers and each row's meaning), `results` (runs
gathered and summarised over seeds, intervals, paired differences, claims: pure data), `tables` (the Markdown pages
show), `plots` (their figures), `confusion` (which classes a student confuses), `costs` (the benchmark records and
estimates of the costs page) and `findings` (the findings box and the study figure); the names the pages use from
these are importable from `pand_core.report` itself, as the notebooks do. Imported from their own modules: `figures`
(the hands-on pages' figures), `noise` (seed noise and seed counts), `style` (the book's figure style) and `diagram`
(the two-stage picture)."""

from ..config import ABLATION, METHOD_ORDER  # noqa: F401  (the registries, here for the pages that read them)
from .confusion import confusion_matrix, confusion_panel, confusion_summary, most_confused, name_difference  # noqa: F401
from .costs import (  # noqa: F401
    BANK_VIEWS, CUB_TRAIN_IMAGES, GPU_SUITE_COMMAND, GPU_SUITE_PARTS, ORIGINAL_GPUS, PAPER_BATCH, PAPER_EPOCHS,
    bench_hardware, benchmarks_of, collect_benchmarks, cub_estimate, cub_estimate_markdown, data_path_markdown,
    gpu_suite_markdown, gpu_suite_pending, gpu_suite_records, inference_markdown, original_setup_estimate, ran_on_gpu,
    stage1_step_markdown, step_demand, step_demand_lines, step_time_markdown,
)
from .paper import METHOD_NOTES, PAPER, PAPER_BEST_PAND, PAPER_DERIVED, PAPER_SOURCE, paper_markdown  # noqa: F401
from .plots import bar_chart, interval_plot, plot_stage2  # noqa: F401
from .results import (  # noqa: F401
    CLAIMS, PAIRED, claims, collect_calibrations, collect_results, paired_difference, study_summary, summarise,
    t_interval, verdict, write_study_summary,
)
from .tables import (  # noqa: F401
    ablation_markdown, calibrations_markdown, claims_markdown, cost_markdown, dataset_label, results_markdown,
    stage1_markdown, summary_markdown, write_study_report,
)
from .findings import committed_regimes, committed_study, findings_beside, findings_markdown, study_figure  # noqa: F401
