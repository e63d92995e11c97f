from badzoo.helpers import *


def uses_star():
    return helper()
