"""Dataset formats: `dataset.format` names one, registered here by its module.

A format is one loader `(cfg, transform, with_train) -> LoadedData` plus one schema (a
`DatasetConfig` subclass, stored as `schema/dataset/<format>`), and optionally a `catalog`
`(cfg) -> Catalog` naming its classes without the data, so forget presets validate anywhere.
The same loader builds the main benchmark and, reading only its test split, a zero-shot suite.
To add a format: a module here with

    @FORMATS.register("my_format", MyDatasetConfig, catalog=my_catalog)
    def load_my_format(cfg, transform, with_train) -> LoadedData: ...

and a `conf/dataset/<name>.yaml` that lists `/schema/dataset/my_format@_here_` in its defaults.
"""

from unlearn.registry import Registry

FORMATS = Registry("dataset format", __name__)
