"""One Map (一张图): the service stack of a territorial spatial planning
implementation-supervision system."""
