"""The method's math: every loss term as a pure function, what NLRD sees, the paper's constants."""
