"""SQL templates: normalize training SQL into table-independent shapes with typed slots.

See ``docs/templates.md`` for the template syntax. Public API::

    extract_templates(examples, schemas) -> ExtractionReport
    normalize(sql, schema) -> (text, slots)
"""

from synth.templates.extract import extract_templates
from synth.templates.model import ExtractionReport, Slot, Template, TemplateError, slots_of, template_id
from synth.templates.pipeline import RULES, normalize

__all__ = [
    "RULES",
    "ExtractionReport",
    "Slot",
    "Template",
    "TemplateError",
    "extract_templates",
    "normalize",
    "slots_of",
    "template_id",
]
