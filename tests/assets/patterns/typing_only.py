# Imported only under TYPE_CHECKING; its imports are not even installed.
import matplotlib.pyplot as plt


class Heavy:
    figure = plt.figure
