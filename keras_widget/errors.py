"""The one exception the public API raises for an edit that cannot give a valid model."""


class EditError(ValueError):
    """An edit that cannot give a valid model.

    Raised before anything is built for real: the source model is untouched and no new model is
    returned. The message names the target, the layer where the edit fails and the shapes
    involved. The Keras exception behind it, if any, is kept in ``.cause`` (it is not chained, so
    no raw Keras traceback reaches the person).
    """

    def __init__(self, message, *, target=None, layer=None, cause=None):
        super().__init__(message)
        self.target = target
        self.layer = layer
        self.cause = cause
