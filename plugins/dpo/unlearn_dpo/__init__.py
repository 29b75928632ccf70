"""DPO (IdkDPO) and IdkNLL unlearning methods for unlearn: answer forget questions with "I don't know"."""

__version__ = "0.1.0"
